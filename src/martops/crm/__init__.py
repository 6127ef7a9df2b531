"""The CRM foundation: customers, transactions, products, interactions and the sales team, standardised."""
