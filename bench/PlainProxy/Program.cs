using Yarp.ReverseProxy.Configuration;

// A plain YARP reverse proxy to one backend (BACKEND=http://host:port), no logging: the framework's own cost per request.
var backend = Environment.GetEnvironmentVariable("BACKEND")
    ?? throw new InvalidOperationException("BACKEND (the node's base URL) is not set");
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "node", Match = new RouteMatch { Path = "/{**rest}" } }],
    [new ClusterConfig { ClusterId = "node", Destinations = new Dictionary<string, DestinationConfig> { ["node"] = new() { Address = backend } } }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
