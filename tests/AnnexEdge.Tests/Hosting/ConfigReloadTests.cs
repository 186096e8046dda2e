using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using AnnexEdge.Hosting;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Tests.Hosting;

public sealed class ConfigReloadTests : IDisposable
{
    private const string UuidA = "aaaaaaaa-1111-4111-8111-111111111111";
    private const string UuidB = "bbbbbbbb-2222-4222-8222-222222222222";

    private static readonly Dictionary<string, string?> NoOthers = [];

    private readonly string _dir = Directory.CreateTempSubdirectory("reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Changed_repositories_and_users_are_applied_without_a_restart()
    {
        var running = Options(("a", UuidA));
        var next = Options(("a", UuidA), ("b", UuidB));
        next.Users.Add(new UserOptions { Name = "alice" });

        var plan = ConfigReload.Plan(running, next, NoOthers, NoOthers);

        Assert.Empty(plan.NeedRestart);
        Assert.Equal(["a", "b"], plan.Applied.Repositories.Select(r => r.Name));
        Assert.Equal("alice", Assert.Single(plan.Applied.Users).Name);
    }

    [Fact]
    public void A_changed_restart_only_setting_is_named_and_keeps_its_running_value()
    {
        var running = Options(("a", UuidA));
        var next = Options(("a", UuidA));
        next.Limits.MaxConnectionsPerIp = 7;
        next.Uuid = "cccccccc-3333-4333-8333-333333333333";

        var plan = ConfigReload.Plan(running, next, NoOthers, NoOthers);

        Assert.Equal(["AnnexEdge:Uuid", "AnnexEdge:Limits"], plan.NeedRestart.Order(StringComparer.Ordinal).Reverse());
        Assert.Equal(running.Limits.MaxConnectionsPerIp, plan.Applied.Limits.MaxConnectionsPerIp);
        Assert.Null(plan.Applied.Uuid);
    }

    [Fact]
    public void A_changed_listener_outside_the_section_needs_a_restart()
    {
        var plan = ConfigReload.Plan(
            Options(), Options(),
            new Dictionary<string, string?> { ["Kestrel:Endpoints:Https:Url"] = "https://0.0.0.0:443", ["Serilog:MinimumLevel"] = "Information" },
            new Dictionary<string, string?> { ["Kestrel:Endpoints:Https:Url"] = "https://0.0.0.0:8443", ["Serilog:MinimumLevel"] = "Information" });

        Assert.Equal(["Kestrel"], plan.NeedRestart);
    }

    [Fact]
    public async Task A_valid_changed_file_replaces_the_snapshot_and_yarp_clusters()
    {
        var file = Write(Repository("a", UuidA));
        var (reload, catalog, yarp) = Start(file);
        var before = catalog.Current;

        Write(Repository("a", UuidA), Repository("b", UuidB));

        Assert.True(await reload.ReloadAsync(TestContext.Current.CancellationToken));
        Assert.NotSame(before, catalog.Current);
        Assert.Equal("b", catalog.Resolve(UuidB)?.Name);
        Assert.NotEqual(before.Version.Version, catalog.Current.Version.Version);
        Assert.Equal(["repo:a", "repo:b"], yarp.GetConfig().Clusters.Select(c => c.ClusterId).Where(id => id.StartsWith("repo:", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // A request that resolved its target before keeps it: the old snapshot is not changed.
        Assert.Null(before.Resolve(UuidB));
    }

    [Fact]
    public async Task An_unchanged_file_is_not_reloaded()
    {
        var file = Write(Repository("a", UuidA));
        var (reload, catalog, _) = Start(file);
        var before = catalog.Current;

        Assert.False(await reload.ReloadAsync(TestContext.Current.CancellationToken));
        Assert.Same(before, catalog.Current);
    }

    [Fact]
    public async Task An_invalid_file_is_refused_with_the_messages_of_check_config_and_the_old_config_serves_on()
    {
        var file = Write(Repository("a", UuidA));
        var (reload, catalog, yarp) = Start(file, out var logged);
        var before = catalog.Current;
        var routes = yarp.GetConfig();

        Write(Repository("a", UuidA), Repository("b", "not-a-uuid"), Repository("a", UuidB));
        var expected = Assert.Throws<EdgeConfigurationException>(
            () => EdgeConfiguration.Load(new ConfigurationManager(), file, [])).Errors;

        Assert.False(await reload.ReloadAsync(TestContext.Current.CancellationToken));
        Assert.Same(before, catalog.Current);
        Assert.Same(routes, yarp.GetConfig());
        Assert.True(expected.Count >= 2, string.Join("\n", expected));
        Assert.Equal(expected, logged.Where(e => e.Id == EdgeEventIds.ConfigReloadRefused).Select(e => e.Problem));
    }

    [Fact]
    public async Task A_rescan_that_finds_the_same_repositories_changes_nothing_and_one_that_finds_a_new_one_serves_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var repositories = Directory.CreateDirectory(Path.Combine(_dir, "repositories")).FullName;
        MakeRepository(repositories, "one", UuidA);
        var file = Write();
        var config = JsonNode.Parse(File.ReadAllText(file))!;
        config["AnnexEdge"]!["Directories"] = new JsonArray(new JsonObject
        {
            ["Path"] = repositories, ["Backends"] = new JsonArray((JsonNode)"http://127.0.0.1:9"),
        });
        File.WriteAllText(file, config.ToJsonString());
        var (reload, catalog, yarp) = Start(file);
        await reload.StartAsync(ct);
        try
        {
            var first = catalog.Current;
            var clusters = yarp.GetConfig();
            Assert.Equal("one", first.Resolve(UuidA)?.Name);

            Assert.False(await reload.RescanAsync(ct));
            Assert.Same(first, catalog.Current);
            Assert.Same(clusters, yarp.GetConfig());

            MakeRepository(repositories, "two", UuidB);
            Assert.True(await reload.RescanAsync(ct));
            Assert.Equal("two", catalog.Current.Resolve(UuidB)?.Name);
            Assert.Equal("one", catalog.Current.Resolve(UuidA)?.Name);
            Assert.False(await reload.RescanAsync(ct));

            Directory.Delete(Path.Combine(repositories, "one"), recursive: true);
            Assert.True(await reload.RescanAsync(ct));
            Assert.Null(catalog.Current.Resolve(UuidA));
        }
        finally
        {
            await reload.StopAsync(ct);
        }
    }

    private static void MakeRepository(string directory, string name, string uuid)
    {
        var git = Directory.CreateDirectory(Path.Combine(directory, name, ".git")).FullName;
        File.WriteAllText(Path.Combine(git, "config"), $"[core]\n\tbare = false\n[annex]\n\tuuid = {uuid}\n");
        File.WriteAllText(Path.Combine(git, "HEAD"), "ref: refs/heads/main\n");
    }

    private static (ConfigReload Reload, RepositoryCatalog Catalog, InMemoryConfigProvider Yarp) Start(string file) => Start(file, out _);

    private static (ConfigReload Reload, RepositoryCatalog Catalog, InMemoryConfigProvider Yarp) Start(
        string file, out List<(int Id, string Problem)> logged)
    {
        var options = EdgeConfiguration.Load(new ConfigurationManager(), file, []);
        var catalog = new RepositoryCatalog(new CatalogSnapshot(options, ConfigVersion.Of(file, DateTimeOffset.UnixEpoch)));
        var yarp = new InMemoryConfigProvider(YarpConfigFactory.Routes, YarpConfigFactory.Clusters(catalog.Current));
        var time = new FakeTimeProvider();
        var capture = new Capture();
        logged = capture.Events;
        var loggers = LoggerFactory.Create(builder => builder.AddProvider(capture));
        var managed = new ManagedDirectories(new BackendLoad(), new NoProxyState(), time, loggers);
        return (new ConfigReload(new ConfigSource(file, []), catalog, new Authenticator(options, time), yarp, managed, time, loggers), catalog, yarp);
    }

    /// <summary>No managed directories here, so nothing is looked up.</summary>
    internal sealed class NoProxyState : IProxyStateLookup
    {
        public bool TryGetRoute(string id, [NotNullWhen(true)] out RouteModel? route) => throw new NotSupportedException();

        public IEnumerable<RouteModel> GetRoutes() => throw new NotSupportedException();

        public bool TryGetCluster(string id, [NotNullWhen(true)] out ClusterState? cluster) => throw new NotSupportedException();

        public IEnumerable<ClusterState> GetClusters() => throw new NotSupportedException();
    }

    private string Write(params JsonObject[] repositories)
    {
        var path = Path.Combine(_dir, "annexedge.json");
        var config = new JsonObject
        {
            ["AnnexEdge"] = new JsonObject
            {
                ["Repositories"] = new JsonArray(repositories.Select(r => (JsonNode)r).ToArray()),
                ["Anonymous"] = new JsonObject { ["*"] = "readonly" },
            },
        };
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private static JsonObject Repository(string name, string uuid) => new()
    {
        ["Name"] = name,
        ["Uuid"] = uuid,
        ["Backends"] = new JsonArray((JsonNode)$"http://127.0.0.1:9/{name}"),
    };

    private static AnnexEdgeOptions Options(params (string Name, string Uuid)[] repositories) => new()
    {
        Repositories = repositories.Select(r => new RepositoryOptions { Name = r.Name, Uuid = r.Uuid, Backends = ["http://127.0.0.1:9"] }).ToList(),
    };

    /// <summary>Keeps the problem of every refusal the reload logs.</summary>
    private sealed class Capture : ILoggerProvider, ILogger
    {
        public List<(int Id, string Problem)> Events { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values && values.FirstOrDefault(v => v.Key == "Problem").Value is string problem)
            {
                lock (Events)
                {
                    Events.Add((eventId.Id, problem));
                }
            }
        }

        public void Dispose()
        {
        }
    }
}
