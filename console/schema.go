package console

func (c *Console) routeSchema() {}
