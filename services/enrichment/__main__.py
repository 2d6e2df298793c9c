from shared.entrypoint import run_service
from services.enrichment.bootstrap import SERVICE, main
from services.enrichment.settings import EnrichmentSettings

run_service(SERVICE, EnrichmentSettings, main)
