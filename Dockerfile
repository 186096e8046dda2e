# AnnexEdge image. Build: docker build -t annexedge .   Run: see config/README.md, "Docker".
# scripts/check-dockerfile.sh replays the build stage without Docker (CI): keep one instruction per line there.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore from the project files alone first, so a source change does not invalidate the restored layer.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/AnnexEdge.Protocol/AnnexEdge.Protocol.csproj src/AnnexEdge.Protocol/
COPY src/AnnexEdge.Acme/AnnexEdge.Acme.csproj src/AnnexEdge.Acme/
COPY src/AnnexEdge/AnnexEdge.csproj src/AnnexEdge/
# The publish is ReadyToRun (src/AnnexEdge/AnnexEdge.csproj), so per platform: restore and publish for the image's.
# The project sets PublishReadyToRun only when publishing; the restore must say it too, or the runtime and crossgen
# packs the publish needs are not fetched (NETSDK1112 on a machine whose NuGet cache lacks them).
ARG TARGETARCH
RUN dotnet restore src/AnnexEdge/AnnexEdge.csproj -a "${TARGETARCH:-amd64}" -p:PublishReadyToRun=true
COPY src/ src/
RUN dotnet publish src/AnnexEdge/AnnexEdge.csproj -c Release -a "${TARGETARCH:-amd64}" -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# /app/certs holds the certificate files named in the config's Kestrel section; the config goes to /etc/annexedge.
RUN mkdir -p /app/certs /etc/annexedge && chown "$APP_UID" /app/certs
VOLUME ["/app/certs"]
# The image's own non-root user; Docker lets it bind 80 and 443 inside the container.
USER $APP_UID
# Used only when the config has no Kestrel endpoints (the base image would listen on 8080).
ENV ASPNETCORE_HTTP_PORTS=80
# ChaCha20 for TLS clients that prefer it, as git-annex's does (see the file).
ENV OPENSSL_CONF=/app/openssl.cnf
EXPOSE 80 443
# The image has no curl or wget: the edge checks itself. Assumes plain HTTP on port 80 (override with --health-cmd).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["dotnet", "/app/AnnexEdge.dll", "healthcheck", "http://127.0.0.1:80/_annexedge/health"]
# SIGTERM (Docker's default) drains within AnnexEdge:Shutdown:GracePeriod; run with --stop-timeout longer than it.
ENTRYPOINT ["dotnet", "/app/AnnexEdge.dll"]
CMD ["--config", "/etc/annexedge/annexedge.json"]
