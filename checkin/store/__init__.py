"""Storage: SQLite connections, migrations, and one module of plain SQL per table family.

Store functions are synchronous and take a DB-API connection first; the async app runs them on
aiosqlite's connection threads through `Database.read` / `Database.write`, the CLI calls them directly.
"""
