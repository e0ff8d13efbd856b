"""The member-services domain that the diagrams drive (members, requests, contacts, ...).

Built on `engine`; never imports Flask. `workflows.bootstrap` builds an engine with the domain
installed; `workflows.operations` holds every write a person or system can make, and
`workflows.read` the read models of the pages, the API and the CLI.
"""
