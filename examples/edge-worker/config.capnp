# workerd configuration for the edge-worker example: serves dist/worker.js on
# http://127.0.0.1:8787 and lets it open sockets to private addresses (the local PostgreSQL).
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/app npx workerd serve examples/edge-worker/config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's fetch() and connect() go through the service named "internet". workerd's
    # implicit one allows public addresses only, so a connection to 127.0.0.1 would be refused.
    (name = "internet", network = (allow = ["public", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "dist/worker.js")],
  compatibilityDate = "2025-09-01",
  # postgres.js's Cloudflare build imports node:buffer, node:events and node:stream.
  compatibilityFlags = ["nodejs_compat"],
  bindings = [(name = "DATABASE_URL", fromEnvironment = "DATABASE_URL")],
);
