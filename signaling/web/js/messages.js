// What to tell people when the relay refuses or ends something: a title, what happened, what to do
// next, and whether trying again (with the same link) can help.

const JOIN_ERRORS = {
  bad_token: {
    title: 'This join link is not valid',
    text: 'The meeting server did not accept this join link. It may be incomplete (cut off when it was copied) or altered.',
    next: 'Open the link again exactly as you received it, or ask the meeting organiser for a new one.',
    retry: false,
  },
  token_expired: {
    title: 'This join link has expired',
    text: 'Join links are valid for a limited time, and this one is no longer valid.',
    next: 'Ask the meeting organiser for a new join link.',
    retry: false,
  },
  token_not_yet_valid: {
    title: 'This join link is not valid yet',
    text: 'The link only works from a later time. Either the meeting has not opened yet, or the clock of this device is wrong.',
    next: 'Check the date and time of this device, or try again closer to the meeting time.',
    retry: true,
  },
  wrong_audience: {
    title: 'This join link is for another server',
    text: 'The link was issued for a different meeting service than this one.',
    next: 'Check that you opened the address you were given, or ask the organiser for a new link.',
    retry: false,
  },
  wrong_room: {
    title: 'This join link is for another meeting',
    text: 'The link does not match the meeting you tried to enter.',
    next: 'Ask the meeting organiser for the right link.',
    retry: false,
  },
  room_locked: {
    title: 'The meeting is locked',
    text: 'A moderator has locked this meeting, so nobody new can join right now.',
    next: 'Ask a moderator to unlock the meeting, then try again.',
    retry: true,
  },
  room_full: {
    title: 'The meeting is full',
    text: 'This meeting has reached its maximum number of participants.',
    next: 'Try again later, or contact the meeting organiser.',
    retry: true,
  },
  kicked: {
    title: 'You cannot rejoin this meeting',
    text: 'You were removed from this meeting by a moderator, so this join link can no longer be used to enter it.',
    next: 'If you think this is a mistake, contact the meeting organiser for a new link.',
    retry: false,
  },
  denied: {
    title: 'You were not admitted',
    text: 'A moderator declined your request to join.',
    next: 'Contact the meeting organiser if you think you should be in this meeting.',
    retry: false,
  },
  e2ee_mismatch: {
    title: 'This join link does not match the meeting’s encryption',
    text: 'The meeting is end-to-end encrypted and this link is not (or the other way round), so the meeting server refused it.',
    next: 'Ask the meeting organiser for a new join link for this meeting.',
    retry: false,
  },
  e2ee_room: {
    title: 'Low bandwidth mode is not available here',
    text: 'This meeting is end-to-end encrypted: the meeting server cannot decode its audio, so it cannot mix it into one low-bandwidth stream.',
    next: 'Join again with low bandwidth off.',
    retry: true,
  },
  unsupported_protocol: {
    title: 'This page is out of date',
    text: 'This page and the meeting server speak different versions.',
    next: 'Reload the page. If that does not help, clear the browser cache.',
    retry: false,
  },
};

const GENERIC = {
  title: 'Could not join the meeting',
  text: 'The meeting server refused the request.',
  next: 'Try again. If it keeps happening, contact the meeting organiser.',
  retry: true,
};

/** {title, text, next, retry} for a join refused with `code` (relay `message` as detail). */
export function joinErrorText(code, relayMessage) {
  const known = JOIN_ERRORS[code];
  if (known) return { ...known, code };
  const text = relayMessage ? `${GENERIC.text} (${relayMessage})` : GENERIC.text;
  return { ...GENERIC, text, code };
}

/** Codes after which joining again with the same link cannot work. */
export function isFatalJoinError(code) {
  return !!JOIN_ERRORS[code] && !JOIN_ERRORS[code].retry;
}

/** How the meeting ended for us: kicked, denied, meeting_ended, left. */
export function endText(kind, detail = {}) {
  switch (kind) {
    case 'kicked':
      return {
        title: 'You were removed from the meeting',
        text: `A moderator removed you from this meeting${detail.reason ? ` (reason given: “${detail.reason}”)` : ''}. This join link cannot be used to enter it again.`,
        next: 'If you think this is a mistake, contact the meeting organiser.',
        rejoin: false,
      };
    case 'denied':
      return { ...JOIN_ERRORS.denied, rejoin: false };
    case 'meeting_ended':
      return {
        title: 'The meeting has ended',
        text: 'A moderator ended the meeting for everyone.',
        next: 'You can close this page.',
        rejoin: false,
      };
    case 'left':
      return {
        title: 'You left the meeting',
        text: 'Your camera and microphone are off.',
        next: 'You can join again with the same link while it is valid.',
        rejoin: true,
      };
    default:
      return {
        title: 'Disconnected',
        text: detail.text || 'The connection to the meeting ended.',
        next: 'Join again when you are ready.',
        rejoin: true,
      };
  }
}
