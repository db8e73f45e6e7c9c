# trialbridge image: one image for both roles (`trialbridge serve`, `trialbridge worker`).
# TypeScript runs through tsx, a runtime dependency, so there is no build step.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
# `npm ci` is strict about optional platform packages missing from the lockfile
# (some registries do not serve every platform's @swc/msgpackr binaries); then
# install from the same lockfile with `npm install`.
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund) \
    && npm cache clean --force

COPY . .

# Files stay root-owned (read-only to the app); the app runs as the unprivileged
# `node` user. /data holds the embedded database, used only if DATABASE_URL is unset.
RUN mkdir -p /data && chown node:node /data
ENV PATH=/app/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8080 \
    TRIALBRIDGE_DATA_DIR=/data/pglite
USER node
EXPOSE 8080

ENTRYPOINT ["trialbridge"]
CMD ["serve"]
