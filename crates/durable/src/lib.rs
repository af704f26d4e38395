//! Durable executions of the agent loop on Temporal.
#![warn(missing_docs)]
