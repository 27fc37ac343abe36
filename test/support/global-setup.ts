/**
 * Jest loads global setup through CommonJS `require`, outside the module name mapping the tests
 * get, so our `./x.js` import specifiers (TypeScript's NodeNext style) would not resolve to the
 * `.ts` sources. Map them here, then load the real setup.
 */
import Module from 'node:module';

type Resolve = (request: string, ...rest: unknown[]) => string;
const moduleWithResolver = Module as unknown as { _resolveFilename: Resolve };
const resolve = moduleWithResolver._resolveFilename;
moduleWithResolver._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  try {
    return resolve.call(this, request, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js')) return resolve.call(this, request.replace(/\.js$/, '.ts'), ...rest);
    throw error;
  }
};

export default async function globalSetup(): Promise<void> {
  const { prepareTestServer } = await import('./prepare-test-server.js');
  await prepareTestServer();
}
