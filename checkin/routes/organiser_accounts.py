"""placeholder"""
routes = []
