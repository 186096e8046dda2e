namespace AnnexEdge.Telemetry;

/// <summary>
/// <c>/metrics</c> (Prometheus text format) and the status page <c>/_annexedge/</c>, both for operators only
/// (<see cref="OperatorAccess"/>). They read the edge's own state: a scrape never reaches a backend.
/// </summary>
/// <remarks>
/// The edge's endpoints are plain request delegates, not minimal-API handlers with bound parameters: building those
/// (RequestDelegateFactory's expression trees) took ~75 ms of every start, before the edge could listen.
/// </remarks>
internal static class TelemetryEndpoints
{
    public const string MetricsPath = "/metrics";
    public const string StatusPagePath = "/_annexedge/";

    public static void MapTelemetryEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var gauges = endpoints.ServiceProvider.GetRequiredService<StateGauges>();
        var metrics = endpoints.ServiceProvider.GetRequiredService<EdgeMetrics>();
        metrics.Registry.AddBeforeCollectCallback(gauges.Update);

        endpoints.MapGet(MetricsPath, async context =>
        {
            if (!await context.RequestServices.GetRequiredService<OperatorAccess>().AllowsAsync(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });

        endpoints.MapGet(StatusPagePath, async context =>
        {
            if (!await context.RequestServices.GetRequiredService<OperatorAccess>().AllowsAsync(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
            await context.Response.WriteAsync(
                StatusPage.Render(context.RequestServices.GetRequiredService<StatusSnapshots>().Take(), StatusPage.RefreshSeconds(context.Request.Query["refresh"])), context.RequestAborted);
        });
    }
}
