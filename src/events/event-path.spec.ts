import { DEFAULT_FUNNEL } from '../funnels/funnel.constants.js';
import { isStoredPathPattern, normalisePath } from './event-path.js';

describe('normalisePath', () => {
  it.each([
    ['https://shop.example/products/42?ref=mail#top', '/products/42'],
    ['https://shop.example', '/'],
    ['https://shop.example/', '/'],
    ['https://shop.example/cart/', '/cart'],
    ['/cart/', '/cart'],
    ['/', '/'],
    ['/checkout?step=2', '/checkout'],
    ['/search#results', '/search'],
    ['category/shoes/', '/category/shoes'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/a b', '/a%20b'],
    ['/x/../y', '/y'],
    ['capacitor://localhost/home', '/home'],
    ['capacitor://localhost', '/'],
    ['myapp://settings', '/'],
    ['https://cdn.example//img/a.png', '//img/a.png'],
  ])('turns %s into %s', (url, path) => {
    expect(normalisePath(url)).toBe(path);
  });

  it.each(['mailto:a@b.example', 'javascript:void(0)', 'about:blank'])('gives null for %s, which names no page', (url) => {
    expect(normalisePath(url)).toBeNull();
  });

  it('gives undefined for a url it cannot parse', () => {
    expect(normalisePath('http://')).toBeUndefined();
  });
});

describe('isStoredPathPattern', () => {
  it.each(['/', '*', '/products/*', '*/checkout', '/a%20b', '/caf%C3%A9', '/p/*/reviews', '/*.html', '/100%', '//img/*'])('takes %s', (pattern) => {
    expect(isStoredPathPattern(pattern)).toBe(true);
  });

  it.each(['/caf\u00e9', '/a b', '/a"b', '/a\\b', '/x/../y', '/x/./y', '/cart/', '/search?q=*', '/a#b'])(
    'refuses %s, which no stored path equals',
    (pattern) => {
      expect(isStoredPathPattern(pattern)).toBe(false);
    },
  );

  it('takes every pattern of the default funnel', () => {
    const patterns = DEFAULT_FUNNEL.steps.flatMap((s) => [s, ...(s.alternatives ?? [])]).flatMap((m) => (m.path ? [m.path] : []));
    expect(patterns.length).toBeGreaterThan(0);
    expect(patterns.filter((p) => !isStoredPathPattern(p))).toEqual([]);
  });
});
