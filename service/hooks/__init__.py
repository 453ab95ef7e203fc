"""CDS Hooks protocol: service registry, prefetch templates, request parsing,
finding the rituximab orders, and handling one invocation."""
