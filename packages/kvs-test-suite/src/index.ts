export * from './conformance';
export * from './redisServer';
export * from './runJsonChild';
export * from './useRedisStores';
