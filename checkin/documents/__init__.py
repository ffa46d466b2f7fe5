"""Documents: badges (sheets and images), certificates, sign-in sheets, exports, and the worker processes that
draw them away from the door."""
