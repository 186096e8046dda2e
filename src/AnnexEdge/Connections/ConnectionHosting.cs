using AnnexEdge.Configuration;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace AnnexEdge.Connections;

/// <summary>
/// Wires the per-connection controls into Kestrel (every endpoint: <c>--urls</c>, <c>Kestrel:Endpoints</c>, ACME's
/// HTTPS) and <c>X-Forwarded-For</c>/<c>X-Forwarded-Proto</c> from trusted proxies into the request pipeline.
/// </summary>
internal static class ConnectionHosting
{
    public static void AddEdgeConnections(this WebApplicationBuilder builder, AnnexEdgeOptions options)
    {
        var limits = options.Limits;
        builder.Services.AddSingleton(new TrustedProxies(limits.TrustedProxies));
        builder.Services.AddSingleton<ProxyProtocolMiddleware>();
        builder.Services.AddSingleton<ConnectionLimitMiddleware>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
        {
            // Endpoint defaults are applied before Kestrel adds TLS to an https endpoint, so these see the raw bytes
            // first: the PROXY header comes before the TLS hello, and an excess connection costs no handshake.
            var services = kestrel.ApplicationServices;
            if (limits.ProxyProtocol)
            {
                var proxyProtocol = services.GetRequiredService<ProxyProtocolMiddleware>();
                listen.Use(next => connection => proxyProtocol.OnConnectionAsync(connection, next));
            }

            if (limits.MaxConnectionsPerIp > 0)
            {
                var connectionLimit = services.GetRequiredService<ConnectionLimitMiddleware>();
                listen.Use(next => connection => connectionLimit.OnConnectionAsync(connection, next));
            }
        }));
    }

    /// <summary>
    /// <c>Limits:ReleaseIdleTlsBuffers</c> (<see cref="TlsBufferRelease"/>), applied at each HTTPS request of HTTP/1.x:
    /// its requests come one at a time, so when one starts no read or write runs on the connection's OpenSSL state
    /// (HTTP/2 reads frames while requests run, so its connections keep OpenSSL's default). Applying it again costs
    /// two native calls (~0.3 µs); remembering per connection would cost about as much.
    /// </summary>
    public static void UseTlsBufferRelease(this WebApplication app, AnnexEdgeOptions options)
    {
        if (!options.Limits.ReleaseIdleTlsBuffers)
        {
            return;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<TlsBufferRelease>();
        // Made at the first HTTPS request: the runtime loads libssl with the first handshake.
        var release = new Lazy<TlsBufferRelease?>(() => TlsBufferRelease.TryCreateAndLog(logger));
        app.Use((context, next) =>
        {
            if (context.Features.Get<ISslStreamFeature>() is { } tls
                && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)))
            {
                release.Value?.Apply(tls.SslStream);
            }

            return next(context);
        });
    }

    /// <summary>
    /// The client's address and scheme from <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c>, hop by hop from the
    /// nearest, as long as each hop was a trusted proxy; without <c>Limits:TrustedProxies</c> the headers are ignored.
    /// Goes first in the pipeline, so the request log and every per-address control see the result.
    /// </summary>
    public static void UseForwardedHeadersOfTrustedProxies(this WebApplication app)
    {
        var proxies = app.Services.GetRequiredService<TrustedProxies>();
        if (proxies.Networks.Count == 0)
        {
            return;
        }

        // No ForwardLimit: a chain of trusted proxies (CDN, then load balancer) is followed to the first untrusted hop.
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null,
        };
        // The defaults trust loopback, which would let any local process (or a proxy on this host) name any address.
        forwarded.KnownIPNetworks.Clear();
        forwarded.KnownProxies.Clear();
        foreach (var network in proxies.Networks)
        {
            forwarded.KnownIPNetworks.Add(network);
        }

        app.UseForwardedHeaders(forwarded);
    }
}
