import { BackendCreationError, KVSError, StartupCheck, StoreUnavailableError, UnknownBackendError, UnscopedClearError } from '@learning-observer/kvs';
import { ExampleModuleError } from '@learning-observer/examples';
import { LogFileError, ReducerFrameworkError, UnknownReducerError } from '@learning-observer/reducers';
import { CliError } from './CliError';
import { EXIT } from './exitCodes';

/**
 * The exit code for an error, or `undefined` when the error is unexpected (a bug, reported with
 * its stack trace). Expected errors are printed as one message without a stack trace.
 *
 * @example
 * errorExitCode(new StartupCheck([], 'creds.yaml')); // 3
 */
export function errorExitCode(err: unknown): number | undefined {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof StartupCheck) return EXIT.CONFIG;
  if (err instanceof StoreUnavailableError || err instanceof BackendCreationError) return EXIT.STORE_UNAVAILABLE;
  if (err instanceof UnknownBackendError) return EXIT.USAGE;
  if (err instanceof UnscopedClearError) return EXIT.USAGE; // clear() of a Redis store without a prefix, no opt-in
  if (err instanceof LogFileError) return EXIT.USAGE;
  if (err instanceof ExampleModuleError) return EXIT.USAGE; // unknown --modules name
  if (err instanceof UnknownReducerError) return EXIT.USAGE; // unknown --reducers name
  if (err instanceof KVSError) return EXIT.FAILURES;
  if (err instanceof ReducerFrameworkError) return EXIT.FAILURES;
  return undefined;
}
