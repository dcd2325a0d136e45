/**
 * A worker thread's entry file beside the module that starts it: the TypeScript source, run
 * through tsx, when the service runs from source (as `npm start` and the Docker image do), or
 * the built `.js` beside a built module.
 */
export function workerFile(name: string, base: string): { filename: string; execArgv: string[] } {
  const ts = base.endsWith('.ts');
  return {
    filename: new URL(`${name}.${ts ? 'ts' : 'js'}`, base).href,
    execArgv: ts ? ['--import', 'tsx'] : [],
  };
}
