using System.Net;
using System.Text;

namespace AnnexEdge.Acme.Tests;

/// <summary>An in-process ACME server stub: records requests and answers from a script.</summary>
internal sealed class FakeAcmeServer : HttpMessageHandler
{
    public const string Directory = "https://ca.test/directory";

    private int _nonce;

    public List<HttpRequestMessage> Requests { get; } = [];

    public List<string> Bodies { get; } = [];

    /// <summary>The Replay-Nonce sent with each answer, by request index.</summary>
    public List<string> NoncesSent { get; } = [];

    public (DateTimeOffset Start, DateTimeOffset End)? RenewalWindow { get; init; }

    /// <summary>Answers to POSTs, in order; a POST beyond them fails the test.</summary>
    public Queue<Func<HttpResponseMessage>> Posts { get; } = new();

    public static HttpResponseMessage Json(HttpStatusCode status, string json, string? location = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (location is not null)
        {
            response.Headers.Location = new Uri(location);
        }

        return response;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // As a real connection would: a cancelled request is not sent.
        cancellationToken.ThrowIfCancellationRequested();
        Requests.Add(request);
        Bodies.Add(request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken));
        var response = Answer(request);
        response.RequestMessage = request;
        var nonce = "nonce-" + Interlocked.Increment(ref _nonce);
        response.Headers.Add("Replay-Nonce", nonce);
        NoncesSent.Add(nonce);
        return response;
    }

    private HttpResponseMessage Answer(HttpRequestMessage request)
    {
        var path = request.RequestUri!.AbsolutePath;
        if (request.Method == HttpMethod.Get && path == "/directory")
        {
            var renewal = RenewalWindow is null ? "" : ",\"renewalInfo\":\"https://ca.test/renewal-info\"";
            return Json(HttpStatusCode.OK, $$"""{"newNonce":"https://ca.test/nonce","newAccount":"https://ca.test/account","newOrder":"https://ca.test/order"{{renewal}}}""");
        }

        if (request.Method == HttpMethod.Head && path == "/nonce")
        {
            return new HttpResponseMessage(HttpStatusCode.OK);
        }

        if (request.Method == HttpMethod.Get && path.StartsWith("/renewal-info/", StringComparison.Ordinal) && RenewalWindow is { } window)
        {
            return Json(HttpStatusCode.OK, $$$"""{"suggestedWindow":{"start":"{{{window.Start:O}}}","end":"{{{window.End:O}}}"}}""");
        }

        if (request.Method == HttpMethod.Post && Posts.TryDequeue(out var next))
        {
            return next();
        }

        throw new InvalidOperationException($"unexpected {request.Method} {request.RequestUri}");
    }
}
