export * from './conformance';
export * from './prng';
export * from './redisServer';
export * from './runJsonChild';
export * from './useRedisStores';
