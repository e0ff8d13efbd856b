"""The member-services domain that the diagrams drive (members, requests, contacts, ...).

Built on `engine`; never imports Flask.
"""
