import { normalisePath } from './event-path.js';

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
  ])('turns %s into %s', (url, path) => {
    expect(normalisePath(url)).toBe(path);
  });

  it('gives undefined for a url it cannot parse', () => {
    expect(normalisePath('http://')).toBeUndefined();
  });
});
