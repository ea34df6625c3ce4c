package runtime

func platformFeatures() Features { return Features{} }
