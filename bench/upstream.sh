# Sourced by the benchmark scripts: the upstream every proxy under test talks to.
#
#   start_upstream DIR PORT BODY_BYTES   nginx in its own process (one worker) answering every
#                                        path on 127.0.0.1:PORT with BODY_BYTES bytes
#                                        (DIR/upstream/www/body); files under DIR/upstream
#   stop_upstream DIR
#   nginx_preamble WORKERS DIR           the start of an nginx.conf every benchmark nginx shares,
#                                        up to inside `http {`; the caller adds its servers and `}`

nginx_preamble() {
  cat <<NGINX
worker_processes $1;
pid $2/nginx.pid;
error_log $2/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
NGINX
}

start_upstream() {
  local dir=$1/upstream
  mkdir -p "$dir/www" "$dir/logs"
  chmod 755 "$1" "$dir" "$dir/www"  # nginx workers run as an unprivileged user
  head -c "$3" /dev/zero | tr '\0' 'x' > "$dir/www/body"
  { nginx_preamble 1 "$dir"; cat <<NGINX
  # The body file stays open: no open/fstat/close per request (it capped the proxies before).
  open_file_cache max=16;
  server { listen 127.0.0.1:$2 reuseport; location / { root $dir/www; try_files /body =404; } }
}
NGINX
  } > "$dir/nginx.conf"
  nginx -c "$dir/nginx.conf" -p "$dir"
}

stop_upstream() {
  [ -f "$1/upstream/nginx.pid" ] && kill "$(cat "$1/upstream/nginx.pid")" 2>/dev/null || true
}
