import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../fixtures/free-port.js";
import { sleep } from "./clock.js";
import { type Child, launch } from "./process.js";

export interface Nginx extends Child {
  url: string;
}

/**
 * A plain reverse proxy: one worker process (the shim is one process too), keep-alive
 * connections to upstream, nginx's defaults (buffering included) except on the event
 * stream, which is passed on unbuffered as any SSE proxy must.
 */
function config(prefix: string, port: number, upstream: URL): string {
  const temp = (name: string) => join(prefix, "temp", name);
  return `worker_processes 1;
daemon off;
pid ${join(prefix, "nginx.pid")};
error_log ${join(prefix, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp("body")};
  proxy_temp_path ${temp("proxy")};
  fastcgi_temp_path ${temp("fastcgi")};
  uwsgi_temp_path ${temp("uwsgi")};
  scgi_temp_path ${temp("scgi")};
  upstream opencode {
    server ${upstream.host};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://opencode;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /global/event {
      proxy_pass http://opencode;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

/** Debian's nginx in a throwaway prefix, in front of `upstream`; answers once it serves `probePath`. */
export async function startNginx(upstream: string, probePath: string): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), "bench-nginx-"));
  // The worker drops root for an unprivileged user, which must reach its temp folders.
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, "temp"), { mode: 0o777 });
  chmodSync(join(prefix, "temp"), 0o777);
  const port = await freePort();
  const file = join(prefix, "nginx.conf");
  writeFileSync(file, config(prefix, port, new URL(upstream)));
  const binary = existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
  const child = launch(binary, ["-p", prefix, "-e", join(prefix, "error.log"), "-c", file]);
  const stop = async (graceMs?: number) => {
    await child.stop(graceMs);
    rmSync(prefix, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${url}${probePath}`).catch(() => undefined);
      if (response?.ok) {
        await response.arrayBuffer();
        break;
      }
      if (attempt === 100) throw new Error(`nginx does not serve ${url}${probePath}: ${child.stderr()}`);
      await sleep(100);
    }
    return { ...child, url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
