"""Web forms: the project's XForms filled in the browser, by members and through public links.

``client`` holds the Client methods of public links (create, list, revoke: owners and
managers); ``public`` the Workspace methods of the anonymous side (resolve a link's
token, fetch its form, submit through it, rate-limited per client address).
"""
