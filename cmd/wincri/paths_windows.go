package main

const defaultConfigPath = `C:\ProgramData\wincri\config.toml`
