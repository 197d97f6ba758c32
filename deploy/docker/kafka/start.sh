#!/bin/bash
# Starts the compose broker: writes its server.properties, formats the KRaft storage on first
# start with the admin's SCRAM credential (the admin then creates every other principal), and
# runs Kafka. Needs KAFKA_ADMIN_PASSWORD; KAFKA_EXTERNAL_ADDRESS (host:port the host uses) and
# KAFKA_INTERNAL_HOST (the container's name on the compose network) have defaults.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD (deploy/docker/new-credentials writes .env)}"
case "$KAFKA_ADMIN_PASSWORD" in *[!A-Za-z0-9_-]*) echo "KAFKA_ADMIN_PASSWORD: letters, digits, - and _ only" >&2; exit 2;; esac
props=/tmp/server.properties
sed -e "s/@ADMIN_PASSWORD@/${KAFKA_ADMIN_PASSWORD}/g" \
    -e "s/@INTERNAL_HOST@/${KAFKA_INTERNAL_HOST:-kafka}/g" \
    -e "s/@EXTERNAL_ADDRESS@/${KAFKA_EXTERNAL_ADDRESS:-localhost:9092}/g" \
    /etc/atoz/kafka/server.properties > "$props"
chmod 600 "$props"
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format -c "$props" \
    -t "${KAFKA_CLUSTER_ID:-$(/opt/kafka/bin/kafka-storage.sh random-uuid)}" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$props"
