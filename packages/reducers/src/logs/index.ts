export * from './types';
export * from './LogFileError';
export * from './splitLines';
export * from './parseLogLine';
export * from './openLogFile';
export * from './readLogEvents';
