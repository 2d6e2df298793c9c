#!/usr/bin/env bash
# Makes sure RabbitMQ (with the management UI) and PostgreSQL answer.
# Uses AMQP_URL / DATABASE_URL when set, the local default ports otherwise; starts them with
# docker compose where they don't answer and Docker is present; otherwise says what is missing.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
amqp_host=127.0.0.1; amqp_port=5672; pg_host=127.0.0.1; pg_port=5432
if [ -n "${AMQP_URL:-}" ]; then
  hp=$(echo "$AMQP_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/:]+)(:([0-9]+))?.*#\2 \4#'); amqp_host=${hp% *}; p=${hp#* }; amqp_port=${p:-5672}
fi
if [ -n "${DATABASE_URL:-}" ]; then
  hp=$(echo "$DATABASE_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/:]+)(:([0-9]+))?.*#\2 \4#'); pg_host=${hp% *}; p=${hp#* }; pg_port=${p:-5432}
fi

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

missing=()
answers "$amqp_host" "$amqp_port" || missing+=(rabbitmq)
answers "$pg_host" "$pg_port" || missing+=(postgres)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo "starting ${missing[*]} with docker compose"
    docker compose -f "$here/docker-compose.yml" up -d --wait "${missing[@]}"
  else
    for m in "${missing[@]}"; do
      case $m in
        rabbitmq) echo "RabbitMQ does not answer on $amqp_host:$amqp_port. Install it (Debian: apt-get install rabbitmq-server) and start it (rabbitmq-server -detached), or set AMQP_URL." ;;
        postgres) echo "PostgreSQL does not answer on $pg_host:$pg_port. Install it (Debian: apt-get install postgresql) and start it (pg_ctlcluster 15 main start), or set DATABASE_URL." ;;
      esac
    done
    exit 1
  fi
fi

# The management UI (operators) and its HTTP API (test isolation by vhost) on a local broker.
if [ "$amqp_host" = 127.0.0.1 ] || [ "$amqp_host" = localhost ]; then
  if command -v rabbitmq-plugins >/dev/null 2>&1 && ! answers 127.0.0.1 15672; then
    rabbitmq-plugins enable --quiet rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management >/dev/null
    for _ in $(seq 1 60); do answers 127.0.0.1 15672 && break; sleep 0.5; done
  fi
fi
exit 0
