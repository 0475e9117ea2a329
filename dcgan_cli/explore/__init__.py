"""`dcgan explore`: a local web page over one run, each of its actions a library call a command also makes.

session.py holds the calls, jobs.py runs the slow ones in the background, app.py maps routes to
them (Starlette), server.py serves them (uvicorn), and assets/ is the page (no script, font or
style from the internet)."""
