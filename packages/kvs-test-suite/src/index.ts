export * from './conformance';
export * from './redisServer';
