# gunicorn's entry point: gunicorn -w 4 wsgi:app
from main import create_app

app = create_app()
