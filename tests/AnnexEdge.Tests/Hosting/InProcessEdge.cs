using System.Text.Json.Nodes;
using AnnexEdge.Hosting;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Tests.Hosting;

/// <summary>
/// The whole edge as <see cref="EdgeApplication"/> composes it, in this process on a loopback port, for what it says
/// about its own state: no node process is needed, and a backend's health is set the way YARP's checks set it.
/// </summary>
internal sealed class InProcessEdge : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _configFile;

    private InProcessEdge(WebApplication app, string configFile)
    {
        _app = app;
        _configFile = configFile;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(10) };
    }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the edge with this <c>AnnexEdge</c> section, read from a config file as the real edge reads it.</summary>
    public static async Task<InProcessEdge> StartAsync(JsonObject annexEdgeSection)
    {
        var configFile = Path.Combine(Path.GetTempPath(), $"annexedge-{Guid.NewGuid():N}.json");
        var config = new JsonObject
        {
            ["AnnexEdge"] = annexEdgeSection,
            ["Serilog"] = new JsonObject { ["MinimumLevel"] = new JsonObject { ["Default"] = "Warning" } },
        };
        await File.WriteAllTextAsync(configFile, config.ToJsonString());
        var app = EdgeApplication.Build(["--urls", "http://127.0.0.1:0"], configFile);
        await app.StartAsync();
        return new InProcessEdge(app, configFile);
    }

    public async Task<JsonNode> StatusAsync() =>
        JsonNode.Parse(await Http.GetStringAsync(new Uri("/_annexedge/status", UriKind.Relative)))!;

    /// <summary>Marks a repository's backend unhealthy as a refused connection does (<c>ConnectFailurePolicy</c>).</summary>
    public void TakeOutOfRotation(string repositoryName, int backendIndex)
    {
        var repository = Services.GetRequiredService<RepositoryCatalog>().Repositories.Single(r => r.Name == repositoryName);
        Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(repository.YarpClusterId, out var cluster);
        var destination = cluster!.Destinations[repository.Backends[backendIndex].Id];
        Services.GetRequiredService<IDestinationHealthUpdater>()
            .SetPassive(cluster, destination, DestinationHealth.Unhealthy, TimeSpan.FromMinutes(10));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        File.Delete(_configFile);
    }
}
