import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../tests/support/net.js'
import { type Running, waitForPort } from './processes.js'

export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so'
export const NGINX = '/usr/sbin/nginx'

/** Why nginx + Nchan cannot run here, or undefined when it can. */
export function nchanUnavailable(): string | undefined {
  if (!existsSync(NGINX))
    return `${NGINX} is missing (Debian: apt-get install nginx-light libnginx-mod-nchan)`
  if (!existsSync(NCHAN_MODULE))
    return `${NCHAN_MODULE} is missing (Debian: apt-get install libnginx-mod-nchan)`
  return undefined
}

/**
 * nginx with the Nchan module and Redis storage (`nchan_redis_pass`), `workers` worker processes (one by
 * default, as the service is one Node process; as many as the service's processes when it runs several): `POST /pub/<channel>` publishes, `GET /sub/<channel>` is an EventSource subscriber, and
 * `GET /multi` one subscriber to every channel of `multiChannels` (Nchan's multiplexed subscription, up to
 * 255 channels; given as one id split on commas, as `nchan_channel_id` takes at most 7 arguments), the counterpart of the service's `GET /events?buffer=...`.
 */
export async function startNchan(
  redisPort: number,
  multiChannels: readonly string[] = [],
  workers = 1,
): Promise<Running> {
  const port = await freePort()
  const prefix = mkdtempSync(join(tmpdir(), 'bench-nchan-'))
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(
    conf,
    `load_module ${NCHAN_MODULE};
worker_processes ${workers};
worker_rlimit_nofile 65536;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream redis_server { nchan_redis_server redis://127.0.0.1:${redisPort}; }
  server {
    listen 127.0.0.1:${port};
    location ~ /pub/([\\w-]+)$ { nchan_publisher; nchan_channel_id $1; nchan_redis_pass redis_server; nchan_message_buffer_length 10000; }
    location ~ /sub/([\\w-]+)$ { nchan_subscriber eventsource; nchan_channel_id $1; nchan_redis_pass redis_server; }
${multiChannels.length > 0 ? `    location = /multi { nchan_subscriber eventsource; nchan_channel_id ${multiChannels.join(',')}; nchan_channel_id_split_delimiter ','; nchan_redis_pass redis_server; }\n` : ''}  }
}
`,
  )
  const child = spawn(NGINX, ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(port, child)
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await new Promise((resolve) => child.once('exit', resolve))
      }
      rmSync(prefix, { recursive: true, force: true })
    },
  }
}
