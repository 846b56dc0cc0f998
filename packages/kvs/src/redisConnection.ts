/**
 * Where and how to reach Redis (the `redis_connection` block of the settings file).
 * Defaults: `localhost:6379`, db 0, no password.
 */
export interface RedisConnectionSettings {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  url?: string;
  tls?: boolean | object;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}
