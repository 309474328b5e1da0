package console

func (c *Console) routeJobs() {}
