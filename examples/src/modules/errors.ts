/**
 * Base class of the errors thrown by the example reducer modules. Messages say what to do.
 *
 * @example
 * ```ts
 * try { new WritingObserverModule({ timeOnTaskThreshold: -1 }); }
 * catch (e) { if (e instanceof ExampleModuleError) console.error(e.message); }
 * ```
 */
export class ExampleModuleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A constructor option of an example module that is out of range or of the wrong type.
 *
 * @example
 * ```ts
 * new ActionSummaryModule({ maxEvents: 0 }); // throws InvalidModuleOptionError
 * ```
 */
export class InvalidModuleOptionError extends ExampleModuleError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`Invalid option ${option}=${describeValue(value)}: expected ${expected}. Fix the value passed to the module's constructor.`);
  }
}

/**
 * A Google Docs command (or `document_history` changelog) the reconstruct reducer cannot apply:
 * a missing or ill-typed field such as a non-integer `ibi`. The reducer throws it, so the pipeline
 * reports the failure for that event and key and writes nothing for it; later events still apply.
 *
 * @example
 * ```ts
 * applyCommand(emptyDoc(), { ty: 'is', ibi: 'one', s: 'x' }); // throws MalformedCommandError
 * ```
 */
export class MalformedCommandError extends ExampleModuleError {
  constructor(
    readonly command: unknown,
    readonly reason: string,
  ) {
    super(
      `Malformed Google Docs command ${describeValue(command)}: ${reason}. ` +
        'The event was not applied; check the logger that produced it (indices are 1-based integers, `s` is a string).',
    );
  }
}

/**
 * Short, bounded rendering of a value for error messages.
 *
 * @example
 * ```ts
 * describeValue({ ty: 'is' }); // '{"ty":"is"}'
 * ```
 */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
