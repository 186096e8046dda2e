using AnnexEdge.Acme.Hosting;
using AnnexEdge.Clusters;
using AnnexEdge.Connections;
using AnnexEdge.Directories;
using AnnexEdge.Forwarding;
using AnnexEdge.Git;
using AnnexEdge.Health;
using AnnexEdge.Locking;
using AnnexEdge.Logging;
using AnnexEdge.Peering;
using AnnexEdge.Pipeline;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Options;
using Serilog;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;

namespace AnnexEdge.Hosting;

/// <summary>Composes the edge: Kestrel, Serilog, the P2P layer, YARP with generated routes, health and locking.</summary>
internal static partial class EdgeApplication
{
    /// <summary>
    /// Reads the configuration once (the host's, with <c>--config FILE</c> over it), validates it and composes the
    /// edge. <paramref name="logging"/> adds to Serilog's configuration (tests capture events with it).
    /// </summary>
    /// <exception cref="EdgeConfigurationException">The configuration cannot be read or is not valid.</exception>
    public static WebApplication Build(string[] args, string? configFile, Action<LoggerConfiguration>? logging = null)
    {
        // Nothing is reloaded on change, and the default appsettings.json watch is recursive over the working
        // directory: started next to a repository, every object a node writes woke the edge (measured in bench/).
        var builder = WebApplication.CreateSlimBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        var options = EdgeConfiguration.Load(builder.Configuration, configFile, args);

        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(ConfiguredCertificates.Load(builder.Configuration));
        var recentProblems = new RecentProblems();
        builder.Services.AddSingleton(recentProblems);

        builder.Services.AddSerilog((services, logger) =>
        {
            logger.ReadFrom.Configuration(builder.Configuration)
                .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                .MinimumLevel.Override("Yarp", LogEventLevel.Warning)
                .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
                .Enrich.FromLogContext();
            logging?.Invoke(logger);
            logger.WriteTo.Sink(recentProblems, LogEventLevel.Warning);
            if (options.LogFormat == "json")
            {
                logger.WriteTo.Console(new CompactJsonFormatter());
            }
            else
            {
                logger.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj} {Properties:j}{NewLine}{Exception}");
            }
        }, preserveStaticLogger: true); // this app's logger, not the process-wide Log.Logger (tests run several edges in one process)

        builder.Services.AddSingleton<LargeBlockMemoryPoolFactory>();
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>(
            s => s.GetRequiredService<LargeBlockMemoryPoolFactory>());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
        });

        var catalog = new RepositoryCatalog(new CatalogSnapshot(options, ConfigVersion.Of(configFile, TimeProvider.System.GetUtcNow())));
        builder.Services.AddSingleton(catalog);
        builder.Services.AddSingleton(new ConfigSource(configFile, args));
        // Registered before ConfigReload, so stopped after it: no scan starts a p2phttp once they are being stopped.
        builder.Services.AddSingleton<ManagedDirectories>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ManagedDirectories>());
        builder.Services.AddSingleton<ConfigReload>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConfigReload>());
        builder.Services.AddSingleton<LockTokenCodec>();
        builder.Services.AddSingleton<KeepLockedRelay>();
        builder.Services.AddSingleton<LockLedger>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<NodeClient>();
        builder.Services.AddSingleton<BackendLoad>();
        builder.Services.AddSingleton<ClusterClock>();
        builder.Services.AddSingleton<ClusterCheckPresent>();
        builder.Services.AddSingleton<ClusterDownload>();
        builder.Services.AddSingleton<UploadOffsets>();
        builder.Services.AddSingleton<NodePuts>();
        builder.Services.AddSingleton<ClusterUpload>();
        builder.Services.AddSingleton<ClusterRemove>();
        builder.Services.AddSingleton<ClusterGateway>();
        builder.Services.AddSingleton<GatewayRepository>();
        builder.Services.AddSingleton<PeerRoutes>();
        builder.Services.AddHostedService<PeerRefresher>();
        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.AddSingleton<Transfers>();
        builder.Services.AddSingleton<ProbeTimes>();
        builder.Services.AddSingleton<HealthWatch>();
        builder.Services.AddSingleton<StateGauges>();
        builder.Services.AddSingleton<StatusSnapshots>();
        builder.Services.AddSingleton<OperatorAccess>();
        builder.Services.AddSingleton<IProbingRequestFactory, P2pProbingRequestFactory>();
        builder.Services.AddSingleton<IAvailableDestinationsPolicy, SharedProbeDestinationsPolicy>();
        builder.Services.AddHostedService<SharedBackendProber>();
        builder.Services.AddSingleton<ConnectFailurePolicy>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy>(services => services.GetRequiredService<ConnectFailurePolicy>());
        builder.Services.AddSingleton<IForwarderHttpClientFactory, EdgeHttpClientFactory>();
        builder.Services.AddSingleton(services => new AnnexConfig(
            options, services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()));
        builder.Services.AddSingleton<GitHttpBackend>();
        builder.Services.AddSingleton<GitUpstreamProxy>();
        builder.AddEdgeSecurity(options);
        builder.AddEdgeConnections(options);

        if (options.Acme.Enabled)
        {
            builder.AddAcme(options.Acme, Security.SecurityHosting.ApplyTlsPolicy);
        }

        // After every other Kestrel and HTTPS setting: a passed HTTPS socket takes the HTTPS defaults as they are then.
        builder.AddSystemdSockets();
        // READY=1 once serving and STOPPING=1 at stop to systemd's NOTIFY_SOCKET, when systemd runs the edge.
        builder.Services.AddSystemd();
        builder.Services.AddSingleton<GracefulStop>();
        GracefulStop.Configure(builder, options.Shutdown);
        builder.Services.AddHostedService<LocksReleasedAtStop>();
        if (options.Limits.ReleaseIdleMemory)
        {
            builder.Services.AddHostedService<IdleMemoryRelease>();
        }

        builder.Services.AddReverseProxy()
            .LoadFromMemory(YarpConfigFactory.Routes, YarpConfigFactory.Clusters(catalog.Current))
            .AddTransforms<P2pTransforms>();
        WithoutDataProtectionAtStart(builder.Services);
        ObserveHealthChanges(builder.Services);

        var app = builder.Build();

        app.UseTlsBufferRelease(options);
        app.UseForwardedHeadersOfTrustedProxies();
        // One request-log event per request, enriched from the P2P request feature alone (whatever the target).
        app.UseSerilogRequestLogging(logging =>
        {
            logging.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            logging.MessageTemplate = "{RequestMethod} {RequestPath} {StatusCode} in {Elapsed:0.0} ms";
            logging.GetLevel = (http, _, exception) =>
                exception is not null || http.Response.StatusCode >= 500 ? LogEventLevel.Error : LogEventLevel.Information;
            logging.EnrichDiagnosticContext = RequestLog.Enrich;
        });
        if (options.Acme.Enabled)
        {
            app.UseAcmeChallenges(options.Acme);
        }

        app.UseEdgeSecurity(options);

        // Git at /NAME and /NAME.git (never /git-annex/ or /_annexedge/: validation keeps those names out).
        app.UseMiddleware<GitMiddleware>();

        // Every P2P request, whatever its target, goes through the same layers in this order.
        app.UseMiddleware<P2pRequestMiddleware>();   // parse, validate, resolve the target
        app.UseMiddleware<AccessMiddleware>();       // who, may they, audit
        app.UseMiddleware<LockPolicyMiddleware>();   // what locks mean for the target
        app.UseMiddleware<TargetMiddleware>();       // cluster and gateway served here; repositories on to YARP

        app.UseRouting();
        app.MapStatusEndpoints();
        app.MapPeerEndpoints();
        app.MapTelemetryEndpoints();
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<RepositoryClusterMiddleware>();
            proxy.UseMiddleware<ConnectRetryMiddleware>();
            proxy.UseMiddleware<LockBudgetMiddleware>();
            proxy.UseLoadBalancing();
            proxy.UseMiddleware<LockReservationMiddleware>();
            proxy.UsePassiveHealthChecks();
        });

        LogStartup(app, catalog.Current);
        SecurityHosting.LogAccess(app.Services.GetRequiredService<ILoggerFactory>(), catalog.Current);
        return app;
    }

    /// <summary>
    /// YARP registers ASP.NET Core's data protection for session-affinity cookies, which the edge never configures.
    /// Its hosted service would load the key ring at every start, before the edge listens (~47 ms in a profiled start),
    /// and create one, with a key file under the service user's home directory, on the first: nothing uses the keys.
    /// </summary>
    private static void WithoutDataProtectionAtStart(IServiceCollection services)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (services[i].ServiceType == typeof(IHostedService)
                && services[i].ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService")
            {
                services.RemoveAt(i);
            }
        }
    }

    /// <summary>Every health change YARP's updater makes, active or passive, is also seen by the <see cref="HealthWatch"/>.</summary>
    private static void ObserveHealthChanges(IServiceCollection services)
    {
        var yarps = services.Single(d => d.ServiceType == typeof(IDestinationHealthUpdater));
        services.Remove(yarps);
        services.AddSingleton<IDestinationHealthUpdater>(provider => new ObservingHealthUpdater(
            (IDestinationHealthUpdater)ActivatorUtilities.CreateInstance(provider, yarps.ImplementationType!),
            provider.GetRequiredService<HealthWatch>()));
    }

    private static void LogStartup(WebApplication app, CatalogSnapshot catalog)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AnnexEdge");
        foreach (var repository in catalog.Repositories)
        {
            Log.RepositoryConfigured(logger, repository.Name, repository.Uuid, repository.Backends.Select(b => b.Address).ToArray());
        }

        foreach (var git in catalog.Git.Repositories)
        {
            Log.GitConfigured(logger, git.Name, git.Directory ?? git.Upstream!.ToString());
        }

        if (app.Services.GetRequiredService<LockTokenCodec>().IsEphemeral)
        {
            Log.EphemeralTokenKey(logger);
        }

        // With users configured, a backend with no more lock slots than are reserved for them grants anonymous
        // clients no lock at all: say so where anonymous clients may lock, rather than let their drops fail unexplained.
        var quota = app.Services.GetRequiredService<LockLedger>().Quota;
        var policy = catalog.Access;
        foreach (var repository in catalog.Repositories)
        {
            var anonymousMayLock = AccessPolicy.Permits(
                policy.AnonymousLevel(AccessPolicy.TargetOf(catalog, repository)), P2pAction.Lock, isUser: false, policy.AnonymousLocking);
            if (anonymousMayLock && repository.MaxLocks > 0 && quota.AnonymousSlots(repository.MaxLocks) == 0)
            {
                Log.LockSlotsAllReserved(logger, repository.Name, repository.MaxLocks, quota.ReservedForUsers);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.RepositoryConfigured, LogLevel.Information, "Serving repository {Repository} ({Uuid}) from {Backends}")]
        public static partial void RepositoryConfigured(ILogger logger, string repository, string uuid, string[] backends);

        [LoggerMessage(EdgeEventIds.GitConfigured, LogLevel.Information, "Serving git of {Repository} at /{Repository} from {GitSource}")]
        public static partial void GitConfigured(ILogger logger, string repository, string gitSource);

        [LoggerMessage(EdgeEventIds.EphemeralTokenKey, LogLevel.Warning, "AnnexEdge:Locking:TokenKey is not set: lock tokens are signed with a random key of this process, so several edge processes behind one name cannot relay each other's keeplocked")]
        public static partial void EphemeralTokenKey(ILogger logger);

        [LoggerMessage(EdgeEventIds.LockSlotsAllReserved, LogLevel.Warning, "Repository {Repository}: each backend's {MaxLocks} lock slot(s) are reserved for users (AnnexEdge:Locking:ReservedForUsers {Reserved}), so anonymous clients, who may lock there, get locked:false; run the backends with more --jobs (and set Jobs to match) or lower ReservedForUsers")]
        public static partial void LockSlotsAllReserved(ILogger logger, string repository, int maxLocks, int reserved);
    }
}
