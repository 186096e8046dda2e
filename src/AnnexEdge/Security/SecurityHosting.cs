using System.Globalization;
using System.Net;
using System.Security.Authentication;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Security;

/// <summary>Wires access control and hardening into the host: Kestrel limits, TLS versions, rate limits, HSTS.</summary>
internal static partial class SecurityHosting
{
    public static void AddEdgeSecurity(this WebApplicationBuilder builder, AnnexEdgeOptions options)
    {
        builder.Services.AddSingleton(services => new Authenticator(
            services.GetRequiredService<IOptions<AnnexEdgeOptions>>().Value, services.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<AccessGate>();

        var limits = options.Limits;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxConcurrentConnections = limits.MaxConcurrentConnections > 0 ? limits.MaxConcurrentConnections : null;
            kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
            kestrel.Limits.MaxRequestLineSize = limits.MaxRequestLineSize;
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
            kestrel.ConfigureHttpsDefaults(ApplyTlsPolicy);
        });

        builder.Services.AddSingleton(services => new RequestLimits(limits, services.GetRequiredService<TimeProvider>()));
    }

    /// <summary>TLS 1.2 and 1.3 only. Anything else that sets HTTPS defaults (ACME) must call this too.</summary>
    public static void ApplyTlsPolicy(HttpsConnectionAdapterOptions https) =>
        https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    public static void UseEdgeSecurity(this WebApplication app, AnnexEdgeOptions options)
    {
        var maxAge = (long)options.Limits.HstsMaxAge.TotalSeconds;
        if (maxAge > 0)
        {
            var hsts = "max-age=" + maxAge.ToString(CultureInfo.InvariantCulture);
            app.Use((context, next) =>
            {
                if (context.Request.IsHttps)
                {
                    context.Response.Headers.StrictTransportSecurity = hsts;
                }

                return next(context);
            });
        }

        // Status and liveness too: they are cheap, but unlimited they were a free flood for any address.
        var requestLimits = app.Services.GetRequiredService<RequestLimits>();
        if (requestLimits.Enabled)
        {
            app.Use(async (context, next) =>
            {
                var address = ClientAddress(context);
                if (!requestLimits.TryStart(address))
                {
                    context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    return;
                }

                try
                {
                    await next(context);
                }
                finally
                {
                    requestLimits.End(address);
                }
            });
        }
    }

    /// <summary>Says at start-up and at each reload what clients without credentials may do, target by target.</summary>
    public static void LogAccess(ILoggerFactory loggers, CatalogSnapshot catalog)
    {
        var logger = loggers.CreateLogger("AnnexEdge.Security");
        var policy = catalog.Access;
        var options = catalog.Options;
        var targets = catalog.Clusters.Select(c => AccessTarget.Of(c.Name))
            .Concat(catalog.Repositories.Select(r => AccessPolicy.TargetOf(catalog, r)));
        if (catalog.GatewayUuid is { } gateway)
        {
            targets = targets.Append(AccessTarget.Of(gateway));
        }

        foreach (var target in targets)
        {
            Log.AnonymousAccess(logger, target.Name, policy.AnonymousLevel(target).Name());
        }

        if (!options.AnonymousLocking)
        {
            Log.AnonymousLockingOff(logger);
        }

        Log.UsersConfigured(logger, options.Users.Count, options.AllowBasicAuthOverHttp);
    }

    private static IPAddress ClientAddress(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? Connections.ClientAddress.PartitionKey(address) : IPAddress.None;

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.AnonymousAccess, LogLevel.Information, "Anonymous clients have {Access} access to {Target}")]
        public static partial void AnonymousAccess(ILogger logger, string target, string access);

        [LoggerMessage(EdgeEventIds.AnonymousLockingOff, LogLevel.Information, "Anonymous clients may not lock content (AnonymousLocking is false)")]
        public static partial void AnonymousLockingOff(ILogger logger);

        [LoggerMessage(EdgeEventIds.UsersConfigured, LogLevel.Information, "{Users} users configured; Basic credentials over plain HTTP: {AllowedOverHttp}")]
        public static partial void UsersConfigured(ILogger logger, int users, bool allowedOverHttp);
    }
}
