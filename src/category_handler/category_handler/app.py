"""category-handler: GET and PUT /categories."""

from __future__ import annotations

from category_handler.category_service import CategoryService
from category_handler.models import CategoriesUpdate
from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body
from receipt_vault.categories import CategoriesView
from receipt_vault.category_store import CategoryStore
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.settings import TableApiSettings, load_settings

settings = load_settings(TableApiSettings)
observability = setup_observability()
app = build_api(settings, observability)
categories = CategoryService(CategoryStore(dynamodb_table(settings.table_name)))


@app.get("/categories")
def get_categories() -> CategoriesView:
    return categories.get(current_user_id(app))


@app.put("/categories")
def put_categories() -> CategoriesView:
    return categories.replace(current_user_id(app), parse_body(app, CategoriesUpdate), utc_now())


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
