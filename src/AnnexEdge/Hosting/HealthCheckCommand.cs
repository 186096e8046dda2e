namespace AnnexEdge.Hosting;

/// <summary>
/// <c>AnnexEdge healthcheck URL</c>: exits 0 when the URL answers 2xx within a few seconds, 1 otherwise. For the
/// container's HEALTHCHECK: the runtime image has no curl or wget, and this needs nothing but the edge itself.
/// </summary>
internal static class HealthCheckCommand
{
    public const string Name = "healthcheck";

    public static async Task<int> RunAsync(string url, TextWriter error)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            error.WriteLine($"AnnexEdge: healthcheck: \"{url}\" is not an http or https URL (try: AnnexEdge healthcheck http://127.0.0.1/_annexedge/health)");
            return 2;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(uri);
            if (response.IsSuccessStatusCode)
            {
                return 0;
            }

            error.WriteLine($"AnnexEdge: healthcheck: {url} answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            error.WriteLine($"AnnexEdge: healthcheck: {url}: {e.Message}");
        }

        return 1;
    }
}
