"""HTTP route handlers, one module per domain; handlers stay thin."""
