-- Stats counts deliveries by state within a window of created_at: these
-- indexes cover it, so the count reads the window, not the endpoint's history.
CREATE INDEX deliveries_endpoint_created ON {{S}}.deliveries (endpoint_id, created_at) INCLUDE (state);
CREATE INDEX deliveries_tenant_created ON {{S}}.deliveries (tenant, created_at) INCLUDE (state);
