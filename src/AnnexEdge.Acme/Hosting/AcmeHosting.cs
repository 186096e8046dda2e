using System.Net.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;

namespace AnnexEdge.Acme.Hosting;

/// <summary>Wires ACME into an ASP.NET Core host: services, Kestrel's TLS, and the HTTP challenge/redirect middleware.</summary>
public static class AcmeHosting
{
    private const string ChallengePath = "/.well-known/acme-challenge/";
    private static readonly object HelloKey = new();

    /// <summary>
    /// With ACME enabled every HTTPS endpoint (from <c>--urls</c> or Kestrel's endpoint configuration) serves the
    /// ACME certificate, and answers tls-alpn-01 in the handshake.
    /// </summary>
    /// <param name="builder">The host being built.</param>
    /// <param name="options">The validated <c>AnnexEdge:Acme</c> settings.</param>
    /// <param name="configureHttps">More HTTPS defaults of the host (Kestrel keeps one defaults callback, so they are applied here).</param>
    public static void AddAcme(this WebApplicationBuilder builder, AcmeOptions options, Action<HttpsConnectionAdapterOptions>? configureHttps = null)
    {
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new ChallengeResponder(new CertificateStore(options.StorePath)));
        builder.Services.AddSingleton(services => new ServingCertificates(options.Domains, services.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<AcmeCertificateManager>();
        builder.Services.AddSingleton<RenewalState>();
        builder.Services.AddHostedService<AcmeRenewalService>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            var services = kestrel.ApplicationServices;
            var serving = services.GetRequiredService<ServingCertificates>();
            var responder = services.GetRequiredService<ChallengeResponder>();
            configureHttps?.Invoke(https);
            ConfigureHttps(https, serving, responder);
        }));
    }

    public static void ConfigureHttps(HttpsConnectionAdapterOptions https, ServingCertificates serving, ChallengeResponder responder)
    {
        // Kestrel needs a certificate or a selector to accept the endpoint; OnAuthenticate below decides per handshake.
        https.ServerCertificateSelector = (_, _) => serving.Select();
#pragma warning disable CS0618 // The per-endpoint replacement cannot be set from HTTPS defaults, which --urls endpoints get.
        https.TlsClientHelloBytesCallback = (connection, bytes) =>
        {
            if (ClientHello.Parse(bytes) is { } hello)
            {
                connection.Items[HelloKey] = hello;
            }
        };
#pragma warning restore CS0618
        https.OnAuthenticate = (connection, ssl) =>
        {
            var hello = connection.Items.TryGetValue(HelloKey, out var item) ? item as ClientHello : null;
            ssl.ServerCertificate = null;
            ssl.ServerCertificateSelectionCallback = null;
            if (hello is { OffersAcmeTls: true } && responder.TlsAlpn01(hello.ServerName) is { } challenge)
            {
                // RFC 8737 §3: only acme-tls/1 is negotiated, and the handshake carries nothing else.
                ssl.ServerCertificateContext = SslStreamCertificateContext.Create(challenge, null, offline: true);
                ssl.ApplicationProtocols = [new SslApplicationProtocol(ClientHello.AcmeTls1)];
                return;
            }

            ssl.ServerCertificateContext = serving.SelectContext();
        };
    }

    /// <summary>
    /// Answers http-01 challenges (never redirected, never authenticated) and, when configured, redirects other
    /// plain-HTTP requests to HTTPS on a configured domain (<see cref="HttpsRedirect"/>). Goes first in the pipeline,
    /// before the P2P layer.
    /// </summary>
    public static IApplicationBuilder UseAcmeChallenges(this IApplicationBuilder app, AcmeOptions options)
    {
        var responder = app.ApplicationServices.GetRequiredService<ChallengeResponder>();
        var server = app.ApplicationServices.GetRequiredService<IServer>();
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value ?? "";
            if (path.StartsWith(ChallengePath, StringComparison.Ordinal))
            {
                var answer = responder.Http01(path[ChallengePath.Length..]);
                context.Response.StatusCode = answer is null ? StatusCodes.Status404NotFound : StatusCodes.Status200OK;
                if (answer is not null)
                {
                    context.Response.ContentType = "application/octet-stream";
                    await context.Response.WriteAsync(answer, context.RequestAborted);
                }

                return;
            }

            if (!context.Request.IsHttps && options.RedirectHttpToHttps && !Exempt(path, options) && HttpsPort(server) is { } port)
            {
                var pathAndQuery = context.Request.PathBase.Add(context.Request.Path).ToUriComponent() + context.Request.QueryString.ToUriComponent();
                context.Response.Redirect(
                    HttpsRedirect.Location(context.Request.Host.Host, options.Domains, port, pathAndQuery), permanent: true, preserveMethod: true);
                return;
            }

            await next(context);
        });
    }

    /// <summary>Status and liveness stay on plain HTTP for local monitoring; the annex API when the operator allows it.</summary>
    private static bool Exempt(string path, AcmeOptions options) =>
        path.StartsWith("/_annexedge/", StringComparison.Ordinal)
        || (options.AllowAnnexOverHttp && path.StartsWith("/git-annex/", StringComparison.Ordinal));

    private static int? HttpsPort(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            if (address.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                && BindingAddress.Parse(address) is { Port: > 0 } binding)
            {
                return binding.Port;
            }
        }

        return null;
    }
}
