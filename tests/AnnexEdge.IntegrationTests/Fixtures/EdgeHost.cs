using System.Text.Json.Nodes;
using AnnexEdge.Hosting;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// The whole edge as <see cref="EdgeApplication"/> composes it, hosted in the test process on a real Kestrel port
/// of loopback, its config read from a file as <see cref="EdgeProcess"/> writes it. Its log events are kept
/// (<see cref="Events"/>), so tests assert on event ids and properties, not on output text. Tests that need the
/// real process (its command line, exit code, memory, open files, a kill) use <see cref="EdgeProcess"/>.
/// </summary>
public sealed class EdgeHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TempDirectory _dir;
    private int _disposed;

    private EdgeHost(WebApplication app, TempDirectory dir, LogEvents events)
    {
        _app = app;
        _dir = dir;
        Events = events;
        ListenUrl = app.Urls.Single();
        Port = new Uri(ListenUrl).Port;
    }

    /// <summary>The URL the edge listens on, as bound (its scheme, 127.0.0.1 and its port).</summary>
    public string ListenUrl { get; }

    public int Port { get; }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>What a git-annex client puts in remote.NAME.annexUrl.</summary>
    public string AnnexUrl => $"annex+http://127.0.0.1:{Port}/git-annex/";

    public IServiceProvider Services => _app.Services;

    /// <summary>Everything the edge logged.</summary>
    public LogEvents Events { get; }

    /// <summary>The log rendered as text, for failure messages.</summary>
    public string Logs => Events.Rendered;

    public string ConfigPath => _dir.Combine("annexedge.json");

    /// <summary>The lock token key of test edges (<see cref="EdgeProcess.TestTokenKey"/>).</summary>
    public const string TestTokenKey = EdgeProcess.TestTokenKey;

    /// <summary>The <c>AnnexEdge</c> section for the nodes (<see cref="EdgeProcess.ConfigFor"/>).</summary>
    public static JsonObject ConfigFor(params P2pNode[] nodes) => EdgeProcess.ConfigFor(nodes);

    /// <summary>An edge serving each node as a repository, with all of the node's p2phttp processes as backends.</summary>
    public static Task<EdgeHost> StartAsync(params P2pNode[] nodes) => StartAsync(EdgeProcess.ConfigFor(nodes));

    /// <summary>Starts the edge with this <c>AnnexEdge</c> section (see <see cref="EdgeProcess.ConfigFor"/>); it serves on return.</summary>
    /// <exception cref="EdgeConfigurationException">The configuration is not valid.</exception>
    public static Task<EdgeHost> StartAsync(JsonObject annexEdgeSection) => StartAsync(annexEdgeSection, "http://127.0.0.1:0");

    /// <summary>
    /// Starts the edge on one listen URL (<c>https://127.0.0.1:0</c>, say) with more host arguments (such as
    /// <c>--Kestrel:Certificates:Default:Path=...</c>); <see cref="ListenUrl"/> is where it serves.
    /// </summary>
    /// <exception cref="EdgeConfigurationException">The configuration is not valid.</exception>
    public static async Task<EdgeHost> StartAsync(JsonObject annexEdgeSection, string listenUrl, params string[] hostArgs)
    {
        var dir = new TempDirectory("edge");
        try
        {
            var configPath = await EdgeProcess.WriteConfigAsync(annexEdgeSection, dir);
            var events = new LogEvents();
            // The content root is the edge's own directory, as the process's working directory is.
            var app = EdgeApplication.Build(
                ["--urls", listenUrl, "--contentRoot", dir.Path, .. hostArgs], configPath, logging => logging.WriteTo.Sink(events));
            try
            {
                await app.StartAsync(TestContext.Current.CancellationToken);
            }
            catch
            {
                await app.DisposeAsync();
                throw;
            }

            return new EdgeHost(app, dir, events);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Rewrites the edge's config file with this <c>AnnexEdge</c> section (the edge reloads it on its own).</summary>
    public Task RewriteConfigAsync(JsonObject annexEdgeSection) => EdgeProcess.WriteConfigAsync(annexEdgeSection, _dir);

    /// <summary>The edge's route to a destination as <c>/_annexedge/routes</c> lists it (withdrawn or not); null when it lists none.</summary>
    public async Task<JsonObject?> RouteAsync(string destination)
    {
        var table = JsonNode.Parse(await P2pHttp.Http.GetStringAsync(Url + "/_annexedge/routes", TestContext.Current.CancellationToken))!;
        return table["routes"]!.AsArray().Select(r => r!.AsObject()).FirstOrDefault(r => (string?)r["destination"] == destination);
    }

    /// <summary>Waits (default 10 s) for an event matching; one logged already counts.</summary>
    public Task<LogEvent> EventAsync(Func<LogEvent, bool> match, TimeSpan? deadline = null, string? what = null) =>
        Events.FirstAsync(match, deadline, what);

    /// <summary>Waits for an event with this id (EdgeEventIds) that also matches, if a match is given.</summary>
    public Task<LogEvent> EventAsync(int eventId, Func<LogEvent, bool>? match = null, TimeSpan? deadline = null) =>
        Events.FirstAsync(e => e.EventId() == eventId && (match?.Invoke(e) ?? true), deadline, $"with id {eventId}");

    /// <summary>
    /// Waits for the request event of this method and path end (and status): it is logged once the answer has been
    /// sent, so it may come a moment after the client has its answer.
    /// </summary>
    public Task<LogEvent> RequestEventAsync(string method, string pathEnd, int? status = null, TimeSpan? deadline = null) =>
        Events.FirstAsync(e => e.IsRequest(method, pathEnd, status), deadline, $"for {method} ...{pathEnd} {status}");

    /// <summary>The edge's <c>/_annexedge/status</c> answer.</summary>
    public async Task<JsonNode> StatusAsync() =>
        JsonNode.Parse(await P2pHttp.Http.GetStringAsync(Url + "/_annexedge/status", TestContext.Current.CancellationToken))!;

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
        // A lab disposes the edge it started, and so may the test that holds it.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(stop.Token);
        }
        finally
        {
            await _app.DisposeAsync();
            _dir.Dispose();
        }
    }
}
