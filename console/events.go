package console

func (c *Console) routeEvents() {}
