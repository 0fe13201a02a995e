DROP INDEX consents_resource_idx;
