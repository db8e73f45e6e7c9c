/**
 * Alert email over SMTP (nodemailer). Subject line and body carry what the
 * webhook carries, nothing more: flag code, trial, site, subject number or
 * pre-screen id, visit and a workbench link (minimum necessary).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { SmtpConfig } from '../config/notify';
import { alertLine, type Alert } from './alert';

/** How long the relay may take per message. */
export const SMTP_TIMEOUT_MS = 15_000;

export interface Mailer {
  send(to: string, subject: string, text: string): Promise<void>;
  close(): void;
}

export function createMailer(smtp: SmtpConfig, from: string): Mailer {
  const transport: Transporter = nodemailer.createTransport({
    // A burst of alerts (a batch of new candidates) reuses a few SMTP sessions instead of a
    // connection, greeting and TLS handshake per message (nodemailer "Pooled SMTP").
    pool: true,
    maxConnections: 2,
    maxMessages: 100,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'implicit',
    requireTLS: smtp.tls === 'require',
    ignoreTLS: smtp.tls === 'none',
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    tls: smtp.ca ? { ca: smtp.ca } : undefined,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  return {
    async send(to, subject, text) {
      await transport.sendMail({ from, to, subject, text });
    },
    close: () => transport.close(),
  };
}

const FOOTER = 'This alert names ids only. Open the link to see the evidence in the trialbridge workbench (sign-in required).';

/**
 * One message for one or several alerts to one recipient. Several (a burst of
 * new candidates within one poll) are listed one per line with their links, so
 * an investigator gets one email per burst instead of one per patient.
 */
export function alertsEmail(alerts: readonly Alert[]): { subject: string; text: string } {
  if (alerts.length === 1) return alertEmail(alerts[0]);
  const codes = [...new Set(alerts.map((a) => a.code))].sort();
  return {
    subject: `[trialbridge] ${alerts.length} alerts: ${codes.join(', ')}`,
    text: [`${alerts.length} flags were raised or resolved:`, '', ...alerts.flatMap((a) => [`- ${alertLine(a)}`, `  ${a.link}`]), '', FOOTER, ''].join('\n'),
  };
}

export function alertEmail(a: Alert): { subject: string; text: string } {
  return {
    subject: `[trialbridge] ${alertLine(a)}`,
    text: [`Flag ${a.code} was ${a.event}.`, '', `Trial: ${a.trial}`, `Site: ${a.site}`, `Subject: ${a.subject}`, ...(a.visit ? [`Visit: ${a.visit}`] : []), '', a.link, '', FOOTER, ''].join('\n'),
  };
}

export function digestEmail(alerts: readonly Alert[], day: string): { subject: string; text: string } {
  const byTrial = new Map<string, Alert[]>();
  for (const a of alerts) byTrial.set(a.trial, [...(byTrial.get(a.trial) ?? []), a]);
  const lines: string[] = [`${alerts.length} flag${alerts.length === 1 ? '' : 's'} since the last digest.`, ''];
  for (const [trial, list] of [...byTrial].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${trial} (${list.length})`);
    for (const a of list) lines.push(`  - ${alertLine(a)}`, `    ${a.link}`);
    lines.push('');
  }
  lines.push(FOOTER, '');
  return { subject: `[trialbridge] digest ${day}: ${alerts.length} flag${alerts.length === 1 ? '' : 's'}`, text: lines.join('\n') };
}
