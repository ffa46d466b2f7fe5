"""The door: the pure scan rule, the one place a scan is recorded, what phones send and fetch (payloads, pairing,
the offline copy), and the API's description."""
